"""Event contracts shared by every service: `from shared.events import PostDue, Envelope`."""

from shared.events.catalogue import *  # noqa: F403  (the catalogue is the public surface)
from shared.events.envelope import REGISTRY as REGISTRY
from shared.events.envelope import Envelope as Envelope
from shared.events.envelope import EventData as EventData
from shared.events.envelope import event as event
