"""Training: stage "cmn" (the co-attention mask network alone), then stage "end2end" (paper 4.1)."""
