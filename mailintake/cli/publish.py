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
    help="The directory to write the site into (default: [publish] path).",
)
@click.option("--base-url", help="The address the site is served at, for sitemap.xml (default: [publish] base_url).")
@now_option
@click.pass_context
def publish(ctx: click.Context, out_dir: str | None, base_url: str | None, now: str | None) -> None:
    """Build the public site: citizen manuals, monthly statistics and the permit register, in Thai and English.

    Static files only (relative links, no script): open DIR/index.html from
    disk or serve DIR with any web server. Statistics cover every finished
    month with data; open data (JSON, CSV) and sitemap.xml sit beside them.

    Example: mailintake publish --out /var/www/saraban
    """
    from mailintake.ops.publish import build_site

    dep = deployment(ctx)
    when = moment(ctx, now)
    if base_url is not None and base_url and not base_url.startswith(("https://", "http://")):
        raise click.BadParameter(f"expected an http(s) address, got {base_url!r}", param_hint="--base-url")
    site = build_site(dep, Path(out_dir) if out_dir else dep.cfg.publish.path, when, base_url=base_url)
    click.echo(site.describe())
