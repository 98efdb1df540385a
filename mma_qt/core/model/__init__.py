"""Pure domain logic, no Qt: tickets, tracks, DAG, plans, prompts, usage, pricing."""
