"""Postgres, the source of truth: the schema, every SQL statement (one repository per
aggregate) and the unit of work that makes a transaction of them."""
