"""Model interpretation: attributions, mutagenesis, learned filters as motifs."""
