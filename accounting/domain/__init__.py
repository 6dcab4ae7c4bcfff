"""The pure domain: documents, money, posting rules, scheduling decisions and job progress.

Standard library and pydantic only: no SQL, no Redis, no settings, no clock but the one a
caller passes in. Everything here can be tested without I/O."""
