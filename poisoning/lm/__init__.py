"""Language-model scorers that give a passage's perplexity (the perplexity defense uses them)."""
