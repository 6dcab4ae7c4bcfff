-- The database roles of accounting-impact (security review M6): nothing the services run can
-- alter the schema, disable a trigger, truncate, delete or change a journal line, or become
-- superuser.
--
--   accounting_owner   LOGIN   owns the database and its tables: `accounting migrate` only
--   accounting_app     NOLOGIN what the migrations grant to (0010: the DML posting needs)
--   accounting_worker  LOGIN   a member of accounting_app: workers, beat, Flower and the api
--
-- None of them is a superuser or may create roles or databases, replicate or bypass row
-- security. docker-compose.yml mounts this file into /docker-entrypoint-initdb.d/, so the
-- postgres image runs it, as its superuser, on the first start of an empty volume. Anywhere
-- else (an external or managed Postgres, an existing volume), run it once as a role that may
-- create roles and databases, with psql 15 or later:
--
--   POSTGRES_OWNER_PASSWORD=... POSTGRES_APP_PASSWORD=... \
--     psql "postgresql://ADMIN@HOST:5432/postgres" -v ON_ERROR_STOP=1 -f deploy/postgres/roles.sql
--
-- The passwords are read from the environment by psql itself (\getenv) and reach the server as
-- quoted literals (:'name'): no shell splices them into SQL, and no command line shows them.
-- Running it again is safe: what is missing is created, the two passwords are set again (a way
-- to change them), and a role that holds a power it must not have stops the script. Objects of
-- schema public that another role made (the migrations run as the superuser `accounting` of
-- the earlier compose file) are given to accounting_owner, which must own what it migrates.
\set ON_ERROR_STOP on

\getenv owner_password POSTGRES_OWNER_PASSWORD
\getenv app_password POSTGRES_APP_PASSWORD
\if :{?owner_password}
\else
\set owner_password ''
\endif
\if :{?app_password}
\else
\set app_password ''
\endif
SELECT :'owner_password' = '' OR :'app_password' = '' AS missing_password \gset
\if :missing_password
DO $$ BEGIN
    RAISE EXCEPTION 'POSTGRES_OWNER_PASSWORD and POSTGRES_APP_PASSWORD must both be set';
END $$;
\endif

-- The roles --------------------------------------------------------------------------------
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'accounting_owner') AS create_owner,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'accounting_app') AS create_app,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'accounting_worker') AS create_worker
\gset
\if :create_owner
CREATE ROLE accounting_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
\endif
\if :create_app
CREATE ROLE accounting_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
\endif
\if :create_worker
CREATE ROLE accounting_worker LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    INHERIT IN ROLE accounting_app;
\endif
SELECT NOT pg_has_role('accounting_worker', 'accounting_app', 'USAGE') AS join_app \gset
\if :join_app
GRANT accounting_app TO accounting_worker;
\endif

-- Roles that existed before this script ran are checked, not altered (changing a superuser
-- attribute takes a superuser, which a managed database's admin is not).
DO $$
DECLARE
    found text;
BEGIN
    SELECT string_agg(rolname, ', ' ORDER BY rolname) INTO found FROM pg_roles
     WHERE rolname IN ('accounting_owner', 'accounting_app', 'accounting_worker')
       AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls);
    IF found IS NOT NULL THEN
        RAISE EXCEPTION '% may not be SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS',
            found;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'accounting_app' AND rolcanlogin) THEN
        RAISE EXCEPTION 'accounting_app must be NOLOGIN: log in as accounting_worker';
    END IF;
    IF (SELECT count(*) FROM pg_roles
         WHERE rolname IN ('accounting_owner', 'accounting_worker') AND rolcanlogin) <> 2 THEN
        RAISE EXCEPTION 'accounting_owner and accounting_worker must be LOGIN';
    END IF;
    -- The worker holds accounting_app's privileges and nothing else: no other role's, the
    -- owner's least of all (a member of a role may act as it).
    SELECT string_agg(rolname, ', ' ORDER BY rolname) INTO found FROM pg_roles
     WHERE rolname NOT IN ('accounting_worker', 'accounting_app')
       AND pg_has_role('accounting_worker', oid, 'MEMBER');
    IF found IS NOT NULL THEN
        RAISE EXCEPTION 'accounting_worker may be a member of accounting_app only, not of %',
            found;
    END IF;
END $$;

ALTER ROLE accounting_owner PASSWORD :'owner_password';
ALTER ROLE accounting_worker PASSWORD :'app_password';

-- The database -----------------------------------------------------------------------------
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = 'accounting') AS create_database,
       NOT rolsuper AS not_superuser
  FROM pg_roles WHERE rolname = current_user \gset
\if :not_superuser
-- Only a member of a role may give it a database or an object.
GRANT accounting_owner TO CURRENT_USER;
\endif
\if :create_database
CREATE DATABASE accounting OWNER accounting_owner;
\else
ALTER DATABASE accounting OWNER TO accounting_owner;
\endif
-- New databases let every role connect and make temporary tables: only the application's
-- roles connect here (the owner, as the database's owner, always may).
REVOKE ALL ON DATABASE accounting FROM PUBLIC;
GRANT CONNECT ON DATABASE accounting TO accounting_app;

\connect accounting
DO $$
DECLARE
    item record;
BEGIN
    -- Postgres 14 and older let every role create objects in schema public: only the owner does.
    IF (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public')
        NOT IN ('accounting_owner', 'pg_database_owner') THEN
        ALTER SCHEMA public OWNER TO accounting_owner;
    END IF;
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    -- What another role made in schema public passes to the owner. Indexes, and the sequences
    -- of identity and serial columns, follow their table.
    FOR item IN
        SELECT format('ALTER %s %s OWNER TO accounting_owner', kind, name) AS statement
          FROM (
            SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
                   c.oid::regclass::text AS name
              FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace
               AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
               AND c.relowner <> 'accounting_owner'::regrole
               AND NOT EXISTS (SELECT FROM pg_depend d
                                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                  AND d.deptype IN ('a', 'i', 'e'))
            UNION ALL
            SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                                  ELSE 'FUNCTION' END,
                   p.oid::regprocedure::text
              FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace
               AND p.proowner <> 'accounting_owner'::regrole
               AND NOT EXISTS (SELECT FROM pg_depend d
                                WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                  AND d.deptype = 'e')
            UNION ALL
            SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype::text
              FROM pg_type t
             WHERE t.typnamespace = 'public'::regnamespace
               AND t.typowner <> 'accounting_owner'::regrole
               AND t.typtype IN ('e', 'd', 'r')
               AND NOT EXISTS (SELECT FROM pg_depend d
                                WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                                  AND d.deptype = 'e')
          ) AS objects
    LOOP
        EXECUTE item.statement;
    END LOOP;
END $$;
