-- Measurements: the only place statistics live. Written by the measure stage, read by every
-- view, the report, `replicate` and `measure --json` (docs/measure-schema.md).

-- One stored measurement set per (dataset, parameters): replaced when its inputs change.
CREATE TABLE measure_sets (
    id          BIGINT PRIMARY KEY,
    dataset_id  BIGINT NOT NULL,
    params_hash VARCHAR NOT NULL,        -- md5 of the request's parameters
    params      JSON NOT NULL,
    fingerprint VARCHAR NOT NULL,        -- md5 over the inputs (texts, attributes, vectors, runs)
    version     VARCHAR NOT NULL,        -- measure code version
    seconds     DOUBLE,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (dataset_id, params_hash)
);

CREATE TABLE measurements (
    set_id    BIGINT NOT NULL,           -- measure_sets.id
    prompt_id BIGINT,                    -- NULL: aggregate over prompts
    grp       VARCHAR NOT NULL,          -- 'source' | 'run:<id>'
    ref       VARCHAR NOT NULL,          -- '' = the group's own texts; 'run:<id>' = matched to
                                         -- that run's prompts and n; 'acc' / 'acc:run:<id>' =
                                         -- accumulation curve
    attribute VARCHAR NOT NULL,
    stat      VARCHAR NOT NULL,
    n         INTEGER,                   -- texts per prompt behind the value
    prompts   INTEGER,                   -- prompts behind an aggregate (NULL per prompt)
    draws     INTEGER NOT NULL,          -- subsample draws (0 = the whole set)
    value     DOUBLE,
    sd        DOUBLE,                    -- spread over draws
    lo        DOUBLE,                    -- 95 % interval: bootstrap CI (aggregates) or
    hi        DOUBLE                     -- the draws' 2.5-97.5 % range (per prompt)
);
CREATE INDEX measurements_lookup ON measurements (set_id, attribute, ref, grp);
