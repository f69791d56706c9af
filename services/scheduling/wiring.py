"""Collaborators built from settings, shared by the servicers and the jobs."""

from __future__ import annotations

from services.kit.crypto import SecretBox
from services.scheduling.clients.google import Google, GoogleConfig
from services.scheduling.domain.google import GoogleLinks
from services.scheduling.settings import SchedulingSettings

CALLBACK_PATH = "/v1/scheduling/calendar/google/callback"


def google_links(settings: SchedulingSettings) -> GoogleLinks:
    config = GoogleConfig(
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret,
        auth_url=settings.google_auth_url,
        token_url=settings.google_token_url,
        api_url=settings.google_api_url,
        redirect_uri=f"{settings.public_url}{CALLBACK_PATH}",
    )
    return GoogleLinks(Google(config), SecretBox(settings.encryption_key))
