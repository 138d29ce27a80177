-- API keys are scoped: the sites a key may use (NULL: every site) and what it may do
-- (send, read, inbound, sites). Keys made before keep what they could do: every site and
-- every permission (and, with a default site, the inbound SMS of that site only).
ALTER TABLE api_keys
    ADD COLUMN sites text[] CHECK (sites IS NULL OR cardinality(sites) >= 1),
    ADD COLUMN permissions text[] NOT NULL
        DEFAULT ARRAY['send', 'read', 'inbound', 'sites']
        CHECK (cardinality(permissions) >= 1
               AND permissions <@ ARRAY['send', 'read', 'inbound', 'sites']),
    ADD CONSTRAINT api_keys_default_site_in_sites
        CHECK (default_site IS NULL OR sites IS NULL OR default_site = ANY (sites));
