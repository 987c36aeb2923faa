"""Local fake servers speaking the chat/paging APIs the sinks call, with programmable faults."""
