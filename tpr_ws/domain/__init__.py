"""Domain: NMEP workbook ingestion, the TPR calculation and its outputs (pandas; bytes in/out)."""
