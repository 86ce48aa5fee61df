-- What kind of one-time-code device a code display is: a code display (a screen) or an
-- audio code reader (reads the code aloud, for blind and partially sighted people). Both
-- log on the same way; pages and messages name the device the person has.
ALTER TABLE code_displays ADD COLUMN kind TEXT NOT NULL DEFAULT 'display'
    CHECK (kind IN ('display', 'audio_reader'));
