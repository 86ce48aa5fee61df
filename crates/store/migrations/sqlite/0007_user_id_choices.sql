-- User IDs refused per SMS code of an activation (a "taken" answer tells which user
-- IDs exist, so the tries per letter are limited).
ALTER TABLE activation_grants ADD COLUMN user_id_refusals INTEGER NOT NULL DEFAULT 0;
