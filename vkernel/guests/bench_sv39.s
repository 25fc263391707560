# The core benchmark's guest: M-mode maps the first 2 MiB of RAM with 4 KiB Sv39 pages,
# drops to S-mode and runs a compute-bound kernel with loads, stores, branches and calls:
# an insertion sort of 256 pseudo-random numbers, a checksum, repeated ROUNDS times.
# The checksum lands in a0 and the run ends through the SiFive test finisher.
    .equ ROUNDS, 400
    .equ N, 256
    .globl _start
_start:
    # PMP: let S-mode reach all memory (with no matching entry it would reach nothing)
    li t0, -1
    srli t0, t0, 10
    csrw pmpaddr0, t0
    li t0, 0x1f                   # NAPOT, R W X
    csrw pmpcfg0, t0
    # root (level 2) -> level 1 -> level 0 table with 512 leaf PTEs for 0x8000_0000..+2 MiB
    la t0, pt_l2
    la t1, pt_l1
    la t2, pt_l0
    srli t3, t1, 12               # root entry 2 (VA 0x8000_0000 >> 30 = 2) -> l1
    slli t3, t3, 10
    ori t3, t3, 1                 # V: a pointer
    sd t3, 16(t0)
    srli t3, t2, 12               # l1 entry 0 -> l0
    slli t3, t3, 10
    ori t3, t3, 1
    sd t3, 0(t1)
    li t4, 0x80000                # PPN of 0x8000_0000
    li t5, 512
    mv t6, t2
1:  slli t3, t4, 10
    ori t3, t3, 0xcf              # D A X W R V (no U: S-mode code)
    sd t3, 0(t6)
    addi t4, t4, 1
    addi t6, t6, 8
    addi t5, t5, -1
    bnez t5, 1b
    # the finisher page (0x100000) identity-mapped through root entry 0 -> a gigapage
    li t3, 0xc7                   # D A W R V, PPN 0
    sd t3, 0(t0)
    srli t3, t0, 12
    li t4, 8 << 60                # Sv39
    or t3, t3, t4
    csrw satp, t3
    sfence.vma
    la t0, s_main
    csrw mepc, t0
    li t0, 1 << 11                # MPP = S
    csrw mstatus, t0
    mret

s_main:
    li s0, ROUNDS
    li s1, 0                      # checksum
    li s2, 12345                  # pseudo-random state
2:  la a0, array
    li a1, N
    mv a2, s2
    call fill
    mv s2, a0
    la a0, array
    li a1, N
    call sort
    la a0, array
    li a1, N
    call checksum
    add s1, s1, a0
    addi s0, s0, -1
    bnez s0, 2b
    mv a0, s1
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
3:  j 3b

# fill(a0 = array, a1 = n, a2 = seed) -> a0 = next seed  (a 64-bit LCG)
fill:
    li t1, 6364136223846793005
    li t2, 1442695040888963407
1:  mul a2, a2, t1
    add a2, a2, t2
    srli t0, a2, 33
    sw t0, 0(a0)
    addi a0, a0, 4
    addi a1, a1, -1
    bnez a1, 1b
    mv a0, a2
    ret

# sort(a0 = array of n 32-bit words, a1 = n): insertion sort, ascending
sort:
    li t0, 1
1:  bge t0, a1, 4f
    slli t1, t0, 2
    add t1, a0, t1
    lw t2, 0(t1)                  # key
    mv t3, t1
2:  beq t3, a0, 3f
    lw t4, -4(t3)
    ble t4, t2, 3f
    sw t4, 0(t3)
    addi t3, t3, -4
    j 2b
3:  sw t2, 0(t3)
    addi t0, t0, 1
    j 1b
4:  ret

# checksum(a0 = array, a1 = n) -> a0 = sum of i * array[i]
checksum:
    li t0, 0
    li t1, 0
1:  lwu t2, 0(a0)
    mul t2, t2, t1
    add t0, t0, t2
    addi a0, a0, 4
    addi t1, t1, 1
    blt t1, a1, 1b
    mv a0, t0
    ret

    .bss
    .align 12
pt_l2: .zero 4096
pt_l1: .zero 4096
pt_l0: .zero 4096
array: .zero 4 * N
