"""Refresh the networks of security scanners and privacy proxies that tracking classifies
hits by (mailboxes/tracking/networks.py), from files or URLs."""

import requests
from django.core.management.base import BaseCommand, CommandError

from mailboxes.tracking import networks

TIMEOUT = 20


def _read(source: str) -> str:
    if source.startswith(("http://", "https://")):
        try:
            response = requests.get(source, timeout=TIMEOUT, allow_redirects=False)
            response.raise_for_status()
        except requests.RequestException as error:
            raise CommandError(f"{source}: {error}") from error
        return response.text
    try:
        with open(source, encoding="utf-8") as f:
            return f.read()
    except OSError as error:
        raise CommandError(f"{source}: {error.strerror}") from error


class Command(BaseCommand):
    help = (
        "Refresh the networks whose opens and clicks are not a person's, from files or URLs "
        "(each line 'CIDR reason detail', or a bare CIDR / a CSV's first column with "
        "--reason and --detail). Nothing is written unless every source reads cleanly."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--source", action="append", required=True, help="A file path or http(s) URL."
        )
        parser.add_argument(
            "--reason",
            choices=[str(r) for r in networks.REASONS],
            default="",
            help="The reason of a source's bare networks.",
        )
        parser.add_argument("--detail", default="", help="The detail of a source's bare networks.")

    def handle(self, *args, source, reason, detail, **options):
        found = []
        for origin in source:
            try:
                found += networks.parse(_read(origin), reason, detail, origin=origin)
            except ValueError as error:
                raise CommandError(str(error)) from error
        path = networks.write(found)
        self.stdout.write(f"{len(found)} networks read; the list in force is {path}.")
