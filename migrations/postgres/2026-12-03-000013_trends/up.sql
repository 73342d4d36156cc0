-- Trend and spike detection: which department a category's problems belong to, the alerts
-- raised, and where an improvement opportunity came from.

-- NULL: Atención Usuaria.
ALTER TABLE categories ADD COLUMN department_id BIGINT REFERENCES departments(id);
UPDATE categories SET department_id = (SELECT id FROM departments WHERE slug = 'compradores')
    WHERE slug IN ('compra-agil', 'convenio-marco', 'licitaciones', 'ordenes-de-compra', 'normativa');
UPDATE categories SET department_id = (SELECT id FROM departments WHERE slug = 'proveedores')
    WHERE slug IN ('registro-proveedores', 'pagos');
UPDATE categories SET department_id = (SELECT id FROM departments WHERE slug = 'formacion')
    WHERE slug = 'capacitacion';
UPDATE categories SET department_id = (SELECT id FROM departments WHERE slug = 'diseno-servicios')
    WHERE slug IN ('datos-abiertos', 'sugerencias');

-- agent: drafted by a person (proposed_by); trend_detection: proposed by a trend alert.
ALTER TABLE opportunities ADD COLUMN source TEXT NOT NULL DEFAULT 'agent';

-- One row per spike, with everything that explains it. The unique key is what makes replicas
-- sharing the database raise each alert once: only the one whose insert wins acts on it.
CREATE TABLE trend_alerts (
    id BIGSERIAL PRIMARY KEY,
    granularity TEXT NOT NULL,
    category_id BIGINT NOT NULL REFERENCES categories(id),
    -- '' for the whole category, else the keyword naming the cluster.
    keyword TEXT NOT NULL DEFAULT '',
    bucket_start TIMESTAMPTZ NOT NULL,
    bucket_end TIMESTAMPTZ NOT NULL,
    observed BIGINT NOT NULL DEFAULT 0,
    baseline_mean DOUBLE PRECISION NOT NULL DEFAULT 0,
    baseline_sigma DOUBLE PRECISION NOT NULL DEFAULT 0,
    threshold BIGINT NOT NULL DEFAULT 0,
    p_value DOUBLE PRECISION NOT NULL DEFAULT 1,
    method TEXT NOT NULL DEFAULT '',
    -- History counts, related keywords, parameters and evidence tickets.
    detail JSONB,
    explanation TEXT NOT NULL DEFAULT '',
    department_id BIGINT REFERENCES departments(id),
    opportunity_id BIGINT REFERENCES opportunities(id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (granularity, category_id, keyword, bucket_start)
);
CREATE INDEX trend_alerts_bucket_idx ON trend_alerts (bucket_start);
CREATE INDEX trend_alerts_created_idx ON trend_alerts (created_at);
