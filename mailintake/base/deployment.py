"""One office's deployment, built once per process: its configuration, the
rules and services it keeps as data, its wording, the renderer of its mail, its
calendar, the registry and the file store. The intake road, the desk and the
operations are handed this object; none of them reloads a file of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mailintake.base.auditkey import AuditKey
from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data.db import Registry, utc_now
from mailintake.base.rules import MailRules, Service, load_rules, load_services
from mailintake.base.store import Store, ensure_dir
from mailintake.base.wording import Renderer, Wording


@dataclass
class Deployment:
    cfg: Config
    registry: Registry
    store: Store
    calendar: WorkCalendar
    renderer: Renderer
    wording: Wording
    rules: MailRules
    services: tuple[Service, ...]
    _by_id: dict[str, Service] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, cfg: Config) -> Deployment:
        """Load everything once; a wrong rule, service, template or storage path
        raises ``ConfigError`` (or a subclass) naming the file and key."""
        ensure_dir(cfg.storage_path)
        services = tuple(load_services(cfg.search_path("rules")))
        rules = load_rules(cfg.find("rules", "mail.toml"))
        wording = Wording(cfg.find("templates", "problems.toml"))
        registry = open_registry(cfg)
        return cls(
            cfg=cfg,
            registry=registry,
            store=Store(cfg.store_path),
            calendar=WorkCalendar(cfg.hours),
            renderer=Renderer(cfg),
            wording=wording,
            rules=rules,
            services=services,
            _by_id={s.id: s for s in services},
        )

    def service(self, service_id: str | None) -> Service | None:
        return self._by_id.get(service_id) if service_id else None

    def close(self) -> None:
        self.registry.close()


def open_registry(cfg: Config, *, clock: Callable[[], datetime] = utc_now) -> Registry:
    """The registry of ``cfg`` with its audit key (``[audit] key_file``, made on
    the first write when there is none yet): every process that writes events
    opens it this way, so each event carries its MAC."""
    return Registry(cfg.db_path, cfg.busy_timeout_seconds, audit_key=AuditKey(cfg.audit.key_file), clock=clock)
