-- Embeddings made on an inference server (OpenAI-compatible /v1/embeddings): the server each
-- vector came from, one row per vector of backend 'http' (vectors computed in process have
-- none). A table of its own, so the embeddings table keeps its columns.
CREATE TABLE embedding_servers (
    content_hash VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    backend      VARCHAR NOT NULL,
    server       VARCHAR NOT NULL,
    PRIMARY KEY (content_hash, model, backend)
);
