"""The Integration Gallery: a small web page where project admins enable, configure, test and
import integrations. The browser talks JSON and server-sent events to this app; this app talks gRPC
to the IntegrationService with its own service token. No secret ever reaches the browser."""
