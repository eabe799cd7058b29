"""The only package that speaks SQL: models, migrations, repositories and the unit of work."""
