"""The runtime: application factory, configuration, planner, outbox, dispatcher, channels, CLI."""
