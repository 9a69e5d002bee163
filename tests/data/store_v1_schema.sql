
CREATE TABLE IF NOT EXISTS jobs (
    name        TEXT PRIMARY KEY,
    spec        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running','completed','stopped','failed')),
    seed        INTEGER,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    job             TEXT NOT NULL REFERENCES jobs(name) ON DELETE CASCADE,
    trial_id        INTEGER NOT NULL,
    status          TEXT NOT NULL
                    CHECK (status IN ('pending','running','completed','failed','stopped')),
    hyperparameters TEXT NOT NULL,
    objective       REAL,
    exit_code       INTEGER,
    error           TEXT,
    directory       TEXT,
    created_at      REAL NOT NULL,
    started_at      REAL,
    ended_at        REAL,
    PRIMARY KEY (job, trial_id)
);
CREATE TABLE IF NOT EXISTS metrics (
    job         TEXT NOT NULL,
    trial_id    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    step        INTEGER,
    value       REAL,
    raw         TEXT,
    source      TEXT NOT NULL,
    reported_at REAL NOT NULL,
    FOREIGN KEY (job, trial_id) REFERENCES trials(job, trial_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS metrics_by_trial ON metrics(job, trial_id, name);
