-- When a send was handed to Evolution. Set (as a claim) just before the call, so two deliveries
-- of one message never both call Evolution, and a send whose outcome was never recorded (the
-- process died during the call) is not sent again blindly: it is failed, with its retry path.
ALTER TABLE messages ADD COLUMN handed_at timestamptz;
