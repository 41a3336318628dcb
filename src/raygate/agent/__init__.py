"""The reference agent that raygate releases: retrieval, prompts, generators, the answer loop."""
