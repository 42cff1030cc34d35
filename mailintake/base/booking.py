"""The ``[book]`` section of ``base.config``: the official registry book
(issue 16): the units a document is routed to (การปฏิบัติ), and the receipt
stamp (ตรารับหนังสือ): the name it prints and where its box sits on page 1.
Kept here so that the configuration module stays within its size.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailintake.base.settings import Reader, setting


@dataclass(frozen=True)
class Book:
    units: tuple[str, ...] = setting()
    stamp_name: str = setting()
    stamp_right_mm: float = setting(low=0.0)
    stamp_top_mm: float = setting(low=0.0)

    def check(self, r: Reader) -> None:
        if len(set(self.units)) != len(self.units):
            raise r.fail("units", "a unit is named twice")
        if any(not u.strip() for u in self.units):
            raise r.fail("units", "a unit name is empty")
        if self.stamp_right_mm > 200 or self.stamp_top_mm > 280:
            raise r.fail("stamp_right_mm" if self.stamp_right_mm > 200 else "stamp_top_mm", "the box would leave the page")
