"""The ``[publish]`` section of ``base.config`` (issue 14, R28): the public
site ``mailintake publish`` builds (citizen manuals, monthly statistics, the
permit register), where the daemon writes it on the first working day of each
month, and the address it is served at. Kept here so that the configuration
module stays within its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailintake.base.settings import Reader, setting


@dataclass(frozen=True)
class Publish:
    enabled: bool = setting()
    path: Path = setting()  # empty: site/ under [storage] path (base.config.build), where the service may write
    base_url: str = setting()

    def check(self, r: Reader) -> None:
        url = self.base_url
        if url and not (url.startswith(("https://", "http://")) and "." in url.split("//", 1)[1]):
            raise r.fail(
                "base_url", f"expected an absolute http(s) address such as https://www.banmai.go.th/saraban/, got {url!r}"
            )
        if self.path.exists() and not self.path.is_dir():
            raise r.fail("path", f"{self.path} is a file, not a directory")
