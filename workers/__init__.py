"""arq workers: they execute the jobs the promoter (or a fresh commit) put on the queue."""
