-- Monoscope study schema, version 1. Documented in docs/schema.md.
-- Foreign keys are kept by the code, not declared: DuckDB restricts updates of referenced rows.
CREATE SEQUENCE IF NOT EXISTS seq_datasets START 1;
CREATE SEQUENCE IF NOT EXISTS seq_prompts START 1;
CREATE SEQUENCE IF NOT EXISTS seq_texts START 1;
CREATE SEQUENCE IF NOT EXISTS seq_models START 1;
CREATE SEQUENCE IF NOT EXISTS seq_runs START 1;
CREATE SEQUENCE IF NOT EXISTS seq_projections START 1;

CREATE TABLE datasets (
    id          BIGINT PRIMARY KEY DEFAULT nextval('seq_datasets'),
    name        VARCHAR NOT NULL UNIQUE,
    kind        VARCHAR NOT NULL CHECK (kind IN ('text', 'code')),
    source_uri  VARCHAR,
    imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    meta        JSON
);

CREATE TABLE prompts (
    id          BIGINT PRIMARY KEY DEFAULT nextval('seq_prompts'),
    dataset_id  BIGINT NOT NULL,
    key         VARCHAR NOT NULL,
    title       VARCHAR NOT NULL,
    context     VARCHAR,
    meta        JSON,
    UNIQUE (dataset_id, key)
);

-- Test cases of code prompts (CodeContests tests, the algorithms demo's tests).
CREATE TABLE prompt_tests (
    prompt_id   BIGINT NOT NULL,
    idx         INTEGER NOT NULL,
    kind        VARCHAR NOT NULL DEFAULT 'public',
    input       VARCHAR NOT NULL,
    output      VARCHAR NOT NULL,
    PRIMARY KEY (prompt_id, idx)
);

CREATE TABLE models (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_models'),
    path          VARCHAR NOT NULL,
    sha256        VARCHAR NOT NULL UNIQUE,
    name          VARCHAR NOT NULL,
    architecture  VARCHAR,
    quantization  VARCHAR,
    n_params      BIGINT,
    chat_template VARCHAR,
    gguf_meta     JSON,
    registered_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE runs (
    id                BIGINT PRIMARY KEY DEFAULT nextval('seq_runs'),
    dataset_id        BIGINT NOT NULL,
    model_id          BIGINT,
    label             VARCHAR NOT NULL,
    engine            VARCHAR NOT NULL,
    template          VARCHAR NOT NULL,
    template_text     VARCHAR,
    sampling          JSON NOT NULL,
    n_per_prompt      INTEGER NOT NULL,
    seed              BIGINT NOT NULL,
    prompt_filter     JSON,
    sweep             VARCHAR,
    status            VARCHAR NOT NULL DEFAULT 'planned'
                      CHECK (status IN ('planned', 'running', 'cancelled', 'failed', 'finished', 'imported')),
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP,
    engine_version    VARCHAR,
    meta              JSON
);

-- Human (source) and model (generated) texts in one table, so every attribute treats them alike.
CREATE TABLE texts (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_texts'),
    prompt_id     BIGINT NOT NULL,
    origin        VARCHAR NOT NULL CHECK (origin IN ('source', 'generated')),
    run_id        BIGINT,
    sample_index  INTEGER NOT NULL,
    body          VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,
    label         VARCHAR,
    rating        DOUBLE,
    meta          JSON
);
CREATE INDEX idx_texts_prompt ON texts(prompt_id);
CREATE INDEX idx_texts_hash ON texts(content_hash);

CREATE TABLE generations (
    text_id          BIGINT PRIMARY KEY,
    run_id           BIGINT NOT NULL,
    prompt_id        BIGINT NOT NULL,
    sample_index     INTEGER NOT NULL,
    seed             BIGINT NOT NULL,
    params           JSON,
    prompt_text      VARCHAR,
    n_prompt_tokens  INTEGER,
    n_tokens         INTEGER,
    finish_reason    VARCHAR,
    mean_logprob     DOUBLE,
    perplexity       DOUBLE,
    wall_ms          DOUBLE,
    created_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (run_id, prompt_id, sample_index)
);

-- Scalar or categorical attribute of one text. Context-free extractors reuse values across texts
-- with the same content_hash; `version` names the extractor version that wrote the value.
CREATE TABLE attributes (
    text_id    BIGINT NOT NULL,
    name       VARCHAR NOT NULL,
    value      DOUBLE,
    label      VARCHAR,
    version    VARCHAR NOT NULL,
    PRIMARY KEY (text_id, name)
);

-- Embedding vectors keyed by content hash: identical texts are embedded once.
CREATE TABLE embeddings (
    content_hash VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    backend      VARCHAR NOT NULL,
    dim          INTEGER NOT NULL,
    vector       FLOAT[] NOT NULL,
    PRIMARY KEY (content_hash, model, backend)
);

CREATE TABLE projections (
    id          BIGINT PRIMARY KEY DEFAULT nextval('seq_projections'),
    dataset_id  BIGINT NOT NULL,
    scope       VARCHAR NOT NULL,
    method      VARCHAR NOT NULL,
    params      JSON,
    embedding   VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE projection_points (
    projection_id BIGINT NOT NULL,
    text_id       BIGINT NOT NULL,
    x             FLOAT NOT NULL,
    y             FLOAT NOT NULL,
    PRIMARY KEY (projection_id, text_id)
);

-- Topic clusters fitted per dataset (labels = most distinctive words).
CREATE TABLE topics (
    dataset_id BIGINT NOT NULL,
    topic      INTEGER NOT NULL,
    label      VARCHAR NOT NULL,
    size       INTEGER NOT NULL,
    version    VARCHAR NOT NULL,
    PRIMARY KEY (dataset_id, topic)
);

-- Key/value settings of the study (e.g. the app version that last wrote it).
CREATE TABLE study_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR
);
