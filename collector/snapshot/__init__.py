"""Taking a snapshot: planning, discovering a family's repos, crawling, staging and committing."""
