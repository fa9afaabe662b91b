from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.models import TokenKind, TokenScope
from portal.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print its key once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=TokenScope.values(),
            help="Repeat for several scopes (default: read).",
        )
        parser.add_argument("--machine", action="store_true", help="A machine token (admin-issued scopes).")
        parser.add_argument("--expires-days", type=int, default=90, help="0 for no expiry (default 90).")

    def handle(self, *args, username, name, scopes, machine, expires_days, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if expires_days < 0:
            raise CommandError("--expires-days must be 0 (never) or a positive number of days.")
        try:
            token, key = api_token_create(
                user=user,
                name=name,
                scopes=scopes or [TokenScope.READ],
                kind=TokenKind.MACHINE if machine else TokenKind.PERSONAL,
                expires_at=timezone.now() + timedelta(days=expires_days) if expires_days else None,
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            ) from exc
        self.stdout.write(f"Token {token.name!r} for {user.username} ({', '.join(token.scopes)}):")
        self.stdout.write(key)
        self.stdout.write("Store it now: Propylon keeps only its hash and cannot show it again.")
