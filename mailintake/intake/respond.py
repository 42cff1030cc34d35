"""The respond stage: what the office answers to a registered message (the
acknowledgement, a receipt for more documents, the oversized-mail notice, a
permit verification), composed and queued in the registration's transaction.
"""

from __future__ import annotations
