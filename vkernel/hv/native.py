"""No hypervisor at all: the baseline every technique is measured against.

The guest kernel runs in S-mode on the bare machine, with a small M-mode firmware
(vkernel/guests/sbi.s) answering its SBI calls, exactly as on a real board. There are no
VM exits: the only "exit" is the firmware switching the machine off.
"""

from __future__ import annotations

from vkernel.hv.base import Action, HypervisorError, Technique
from vkernel.hv.memory import GuestMemory
from vkernel.isa.program import Program
from vkernel.machine import Exit


class Native(Technique):
    name = "native"

    def boot(self, guest: Program) -> None:
        from vkernel import guests

        self.machine.load(guest)
        self.machine.load(guests.firmware())  # loaded last: the hart starts in the firmware
        self.memory = self.domain.memory = GuestMemory.direct(self.machine,
                                                             ram_mb=self.domain.ram_mb)

    def handle(self, exit: Exit) -> Action:
        raise HypervisorError(f"a native machine has no hypervisor to exit to: {exit!r}")
