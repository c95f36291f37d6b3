-- How a conversation ended for the inbox: NULL, or 'missed' when the live chat wait
-- timer fired before any rep took it.
ALTER TABLE conversations ADD COLUMN outcome TEXT;
