-- Failed admin sign-ins per key (an account, a client address) in the current window, shared by every
-- instance: the login throttle counts them all, wherever the load balancer sent each attempt.
CREATE TABLE login_failures (
    key       TEXT    PRIMARY KEY,
    failures  INTEGER NOT NULL,
    first_at  TEXT    NOT NULL
);
