"""The Avito sandbox: a real HTTP server speaking the Avito API subset in /work/shared/AVITO_API.md, for several
accounts, with Avito's habits — tokens that expire into 403, 429 with Retry-After, webhook deliveries with echoes
of the account's own messages, system messages, duplicates and retries — and simulated buyers.

The demo runs it instead of Avito (``run_sandbox``); tests run it in a thread (``Sandbox``, a context manager) and
steer it through ``Sandbox.state`` or the same operations over HTTP under ``/sandbox/…``:

    POST  /sandbox/inject                       a buyer/system message into a chat, or into a new chat
    GET   /sandbox/chats/{chat_id}/messages     a chat's history as the account sees it, oldest first
    GET   /sandbox/accounts                     accounts with their credentials and items
    POST  /sandbox/accounts/{user_id}/code      an authorization code for the app (authorization_code grant)
    POST  /sandbox/accounts/{user_id}/expire    expire the account's access tokens now
    GET   /sandbox/config, PATCH /sandbox/config    behaviours (token TTL, rate limit, webhook duplicates…)
    POST  /sandbox/faults, DELETE /sandbox/faults   answer the next N API requests with a given status
    POST  /sandbox/simulator                    {"rate": buyer messages per minute}; 0 stops
    GET   /sandbox/deliveries, /sandbox/requests, /sandbox/stats    what happened, for assertions
    GET   /sandbox/images/…, /sandbox/voice/…   generated item photos, avatars, uploads, voice files

State lives in memory behind one lock: HTTP handlers run on the server's event loop, tests call the same methods
from their own thread. Webhook deliveries are tasks on the server's loop and never hold up an API answer. Given a
``state_file`` (the demo's DATA_DIR/demo-sandbox.json), the world is restored from it and saved back to it
(``persistence``); without one it is seeded afresh and forgotten on stop.
"""

from core.avito.sandbox.app import create_sandbox_app
from core.avito.sandbox.config import Fault, SandboxAccount, SandboxConfig, demo_accounts
from core.avito.sandbox.content import Product, buyer_texts, demo_products, price_string
from core.avito.sandbox.errors import ApiError
from core.avito.sandbox.images import avatar_image, item_image
from core.avito.sandbox.models import Delivery, RecordedCall
from core.avito.sandbox.server import Sandbox, run_sandbox
from core.avito.sandbox.state import SandboxState

__all__ = [
    "ApiError",
    "Delivery",
    "Fault",
    "Product",
    "RecordedCall",
    "Sandbox",
    "SandboxAccount",
    "SandboxConfig",
    "SandboxState",
    "avatar_image",
    "buyer_texts",
    "create_sandbox_app",
    "demo_accounts",
    "demo_products",
    "item_image",
    "price_string",
    "run_sandbox",
]
