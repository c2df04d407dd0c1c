"""Supervision (督查督办): deadline clocks, reminders, notices, listings, the three recommendations."""
