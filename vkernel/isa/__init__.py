"""The RISC-V toolchain inside vkernel: one instruction table, assembler, disassembler, ELF."""
