"""AI providers, chosen by settings: OpenAI-compatible HTTP, the tasks service, or the demo."""

from __future__ import annotations

from dataclasses import dataclass, field

from genq.providers.base import ChatProvider, ImageProvider, TasksProvider
from genq.providers.http import Outbound, RetryPolicy
from genq.settings import Settings


@dataclass(slots=True)
class Providers:
    """What a pipeline may call: images, chat and the tasks service."""

    images: ImageProvider
    chat: ChatProvider
    tasks: TasksProvider
    downloads: Outbound  # no base URL and no credentials: results often live on a CDN
    max_download_bytes: int = 25_000_000
    _outbound: list[Outbound] = field(default_factory=list)

    async def download(self, url: str) -> tuple[bytes, str]:
        """Fetch a result a provider answered with a URL (size-limited); body and type."""
        return await self.downloads.bytes(url, self.max_download_bytes)

    async def close(self) -> None:
        """Close every connection pool."""
        for http in self._outbound:
            await http.close()


def uses_openai(settings: Settings) -> bool:
    """Whether images and chat go to the OpenAI-compatible API."""
    if settings.provider == "auto":
        return settings.openai_api_key is not None
    return settings.provider == "openai"


def make_providers(settings: Settings) -> Providers:
    """The providers the settings ask for; the demo ones where nothing is configured."""
    from genq.providers import demo

    retry = RetryPolicy(
        settings.provider_attempts, settings.provider_retry_initial_s, settings.provider_retry_max_s
    )
    opened: list[Outbound] = []

    def outbound(name: str, base_url: str, headers: dict[str, str] | None = None) -> Outbound:
        http = Outbound(
            name,
            base_url,
            headers=headers,
            timeout_s=settings.provider_timeout_s,
            connect_timeout_s=settings.provider_connect_timeout_s,
            retry=retry,
        )
        opened.append(http)
        return http

    images: ImageProvider = demo.DemoImages()
    chat: ChatProvider = demo.DemoChat()
    tasks: TasksProvider = demo.DemoTasks()
    if uses_openai(settings):
        from genq.providers.openai import OpenAIChat, OpenAIImages

        key = settings.openai_api_key
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        http = outbound("openai", settings.openai_base_url, headers)
        images = OpenAIImages(
            http, settings.openai_image_model, settings.openai_image_response_format or None
        )
        chat = OpenAIChat(http, settings.openai_chat_model)
    if settings.tasks_url:
        from genq.providers.tasks import HttpTasks, PollPolicy

        http = outbound("tasks", settings.tasks_url)
        poll = PollPolicy(
            settings.tasks_poll_initial_s, settings.tasks_poll_max_s, settings.tasks_deadline_s
        )
        tasks = HttpTasks(http, poll)
    downloads = outbound("download", "")
    return Providers(images, chat, tasks, downloads, settings.image_max_bytes, opened)


__all__ = ["Providers", "make_providers", "uses_openai"]
