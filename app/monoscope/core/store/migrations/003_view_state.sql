-- What the explorer showed when the study was last open (dataset, prompt, attribute, scope,
-- selection, tab and dock layout), saved with the study so a copy reopens where it was left.
CREATE TABLE view_state (
    name     VARCHAR PRIMARY KEY,        -- 'explorer'
    value    JSON NOT NULL,
    saved_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
