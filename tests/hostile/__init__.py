"""Bad and hostile files: a generated corpus, one test per case, and a fuzz test."""
