"""The only package that knows SQL: engines, tables, the unit of work, the audit anchor."""
