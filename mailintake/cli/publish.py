"""``mailintake publish``: the public site (issue 14, R18, R28): citizen
manuals, monthly statistics and the permit register, in Thai and English."""

from __future__ import annotations

from pathlib import Path

import click

from mailintake.cli.common import deployment, moment, now_option


@click.command("publish")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="The directory to write the site into (default: [publish] path, site/ under the data directory).",
)
@click.option(
    "--base-url", help="The address the site is served at, for sitemap.xml (default: [publish] base_url; none: no sitemap.xml)."
)
@now_option
@click.pass_context
def publish(ctx: click.Context, out_dir: str | None, base_url: str | None, now: str | None) -> None:
    """Build the public site: citizen manuals, monthly statistics and the permit register, in Thai and English.

    Static files only (relative links, no script): open DIR/index.html from
    disk or serve DIR with any web server. Statistics cover every finished
    month from the first with data; open data (JSON, CSV), sitemap.html and,
    with a base URL, sitemap.xml sit beside them. Files an earlier build wrote
    and this one did not are removed (.mailintake-site.json lists them).

    A clerk's publish runs in the daemon, which under the shipped systemd unit
    writes only /var/lib/mailintake: the default path works; a web root such
    as /var/www/saraban must first be added to the unit's ReadWritePaths=.

    Example: mailintake publish --out ./site
    """
    from mailintake.base import identity
    from mailintake.ops.publish import build_site
    from mailintake.ops.publishing import record_manual

    dep = deployment(ctx)
    when = moment(ctx, now)
    if base_url is not None and base_url and not base_url.startswith(("https://", "http://")):
        raise click.BadParameter(f"expected an http(s) address, got {base_url!r}", param_hint="--base-url")
    site = build_site(dep, Path(out_dir) if out_dir else dep.cfg.publish.path, when, base_url=base_url)
    click.echo(site.describe())
    if not site.sitemap_xml:
        click.echo(
            "sitemap.xml left out: no [publish] base_url (or --base-url), and the sitemap protocol needs absolute addresses; "
            "sitemap.html lists every page"
        )
    record_manual(
        dep.cfg,
        when,
        identity.current().login,
        str(site.out.absolute()),
        len(site.pages),
        site.months[-1] if site.months else None,
    )
