"""Domain events: what happened, published after commit. The cache listens now; the waitlist,
calendar sync and notifications can listen later. Handlers never name cache keys."""

from holdfast.events.bus import EVENT_NAMES, Event, EventBus

__all__ = ["EVENT_NAMES", "Event", "EventBus"]
