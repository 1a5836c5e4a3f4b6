-- Embeddings made on an inference server (OpenAI-compatible /v1/embeddings): the server each
-- vector came from. NULL for vectors computed in process (backends torch, onnx-int8).
ALTER TABLE embeddings ADD COLUMN server VARCHAR;
