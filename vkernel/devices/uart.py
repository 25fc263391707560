"""A 16550 UART (QEMU virt: 0x1000_0000, PLIC source 10): what Linux, xv6 and bare-metal
programs expect. Transmission is instantaneous; received bytes wait in a FIFO.

Registers (offset, with LCR.DLAB=0 / =1): 0 RBR·THR / DLL, 1 IER / DLM, 2 IIR·FCR, 3 LCR,
4 MCR, 5 LSR, 6 MSR, 7 SCR. Interrupts: received data available (IER bit 0) and
transmitter holding register empty (IER bit 1).

>>> u = Uart16550()
>>> for ch in b"hi": u.write(0, 1, ch)
>>> bytes(u.output), u.read(5, 1) & 0x60 == 0x60
(b'hi', True)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

IER_RDI = 0x01  # received data available interrupt
IER_THRI = 0x02  # transmitter holding register empty interrupt
IIR_NONE = 0x01
IIR_THRI = 0x02
IIR_RDI = 0x04
IIR_FIFO = 0xC0  # FIFOs enabled
LCR_DLAB = 0x80
LSR_DR = 0x01
LSR_THRE = 0x20
LSR_TEMT = 0x40


class Uart16550:
    def __init__(self, on_output: Callable[[int], None] | None = None) -> None:
        self.output = bytearray()
        self.on_output = on_output
        self.rx: deque[int] = deque()
        self.ier = 0
        self.lcr = 0
        self.mcr = 0
        self.fcr = 0
        self.scr = 0
        self.dll = 1
        self.dlm = 0
        self.thr_ip = False  # the "THR empty" interrupt is pending
        # an access after which QEMU's serial.c calls serial_update_irq (re-asserting a line
        # that is up); the machine hands it to the PLIC and clears it
        self.raised = False

    @property
    def irq(self) -> bool:
        return bool((self.ier & IER_RDI and self.rx) or (self.ier & IER_THRI and self.thr_ip))

    def receive(self, data: bytes) -> None:
        """Bytes typed at the console: they wait in the receive FIFO."""
        self.rx.extend(data)
        self.raised = True

    def read(self, offset: int, size: int) -> int:
        dlab = self.lcr & LCR_DLAB
        if offset == 0:
            if dlab:
                return self.dll
            self.raised = True
            return self.rx.popleft() if self.rx else 0
        if offset == 1:
            return self.dlm if dlab else self.ier
        if offset == 2:
            fifo = IIR_FIFO if self.fcr & 1 else 0
            if self.ier & IER_RDI and self.rx:
                return IIR_RDI | fifo
            if self.ier & IER_THRI and self.thr_ip:
                self.thr_ip = False  # reading IIR acknowledges the THR-empty interrupt
                self.raised = True
                return IIR_THRI | fifo
            return IIR_NONE | fifo
        if offset == 3:
            return self.lcr
        if offset == 4:
            return self.mcr
        if offset == 5:
            return (LSR_DR if self.rx else 0) | LSR_THRE | LSR_TEMT
        if offset == 6:
            return 0xB0  # DCD, DSR, CTS: a terminal is attached
        if offset == 7:
            return self.scr
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFF
        dlab = self.lcr & LCR_DLAB
        if offset == 0:
            if dlab:
                self.dll = value
                return
            self.output.append(value)
            if self.on_output is not None:
                self.on_output(value)
            self.thr_ip = True  # sent at once: the holding register is empty again
            self.raised = True
        elif offset == 1:
            if dlab:
                self.dlm = value
                return
            if value & IER_THRI and not self.ier & IER_THRI:
                self.thr_ip = True  # enabling it with an empty THR raises it at once
            self.raised |= (value & 0x0F) != self.ier
            self.ier = value & 0x0F
        elif offset == 2:
            self.fcr = value
            self.raised = True
            if value & 2:
                self.rx.clear()
        elif offset == 3:
            self.lcr = value
        elif offset == 4:
            self.mcr = value
        elif offset == 7:
            self.scr = value

    def state(self) -> dict:
        return {k: (bytes(v) if isinstance(v, bytearray) else list(v) if isinstance(v, deque)
                    else v) for k, v in vars(self).items() if k != "on_output"}

    def set_state(self, st: dict) -> None:
        for k, v in st.items():
            if k == "output":
                self.output = bytearray(v)
            elif k == "rx":
                self.rx = deque(v)
            else:
                setattr(self, k, v)
