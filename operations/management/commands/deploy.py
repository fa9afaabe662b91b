"""`propylon deploy UC-0001 --release R --env production [--as USERNAME] [--wait]`."""

import time

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory.models import Environment, Release, UseCase
from operations.choices import DeploymentStatusChoices
from operations.models import Deployment
from operations.policies import may_deploy
from operations.services.deployments import deployment_request
from portal.choices import ChannelChoices
from portal.views.generic import service_error_message


class Command(BaseCommand):
    help = (
        "Deploy a release of a use case to an environment through its deployment target. Production "
        "needs a valid production approval of that exact release. Exits 0 once the deployment is queued."
    )

    def add_arguments(self, parser):
        parser.add_argument("use_case", metavar="UC-0001", help="The use case's key.")
        parser.add_argument("--release", required=True, help="The release's version.")
        parser.add_argument(
            "--env", required=True, metavar="ENVIRONMENT", help="The environment's slug or name."
        )
        parser.add_argument(
            "--as", dest="username", metavar="USERNAME", help="Deploy as this person (their rights apply)."
        )
        parser.add_argument("--wait", action="store_true", help="Wait until the deployment has finished.")
        parser.add_argument("--timeout", type=float, default=600, help="Seconds --wait waits at most.")

    def handle(self, *args, use_case, release, env, username=None, wait=False, timeout=600, **options):
        key = use_case.strip().upper()
        use_case_obj = UseCase.objects.filter(key=key).first()
        if use_case_obj is None:
            raise CommandError(f"There is no use case {key}.")
        release_obj = Release.objects.filter(use_case=use_case_obj, version=release).first()
        if release_obj is None:
            raise CommandError(f"{key} has no release “{release}”.")
        environment = (
            Environment.objects.filter(slug=env) | Environment.objects.filter(name__iexact=env)
        ).first()
        if environment is None:
            names = ", ".join(Environment.objects.values_list("slug", flat=True)) or "none configured"
            raise CommandError(f"There is no environment “{env}” (environments: {names}).")
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username, is_active=True).first()
            if actor is None:
                raise CommandError(f"There is no active person “{username}”.")
            if not may_deploy(actor, use_case_obj):
                raise CommandError(
                    f"{username} may not deploy {key}: only its owning team (or an admin) does."
                )
        try:
            deployment = deployment_request(
                actor=actor,
                use_case=use_case_obj,
                release=release_obj,
                environment=environment,
                channel=ChannelChoices.COMMAND,
            )
        except ValidationError as exc:
            raise CommandError(service_error_message(exc)) from None
        self.stdout.write(
            f"Deployment #{deployment.pk} of {key} {release_obj.version} to {environment.name} queued."
        )
        if wait:
            self._wait(deployment.pk, timeout)

    def _wait(self, deployment_id: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while True:
            deployment = Deployment.objects.get(pk=deployment_id)
            if deployment.status != last:
                last = deployment.status
                self.stdout.write(f"#{deployment.pk}: {deployment.status_label}")
            if deployment.status in DeploymentStatusChoices.FINISHED:
                if deployment.status == DeploymentStatusChoices.FAILED:
                    raise CommandError(f"Deployment #{deployment.pk} failed: {deployment.message}")
                return
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Deployment #{deployment.pk} is still {deployment.status_label.lower()} after {timeout:g} s."
                )
            time.sleep(1)
