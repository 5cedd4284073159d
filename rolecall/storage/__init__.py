"""Persistence plumbing: database engine, tables, migrations, the job queue and the cache.

Nothing above this package knows which database, queue or cache library is in use.
"""
