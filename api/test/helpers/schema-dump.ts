/**
 * A catalog dump of the `public` schema: every table, column (type, default, nullability),
 * constraint, index, sequence, trigger, function, enum and extension, sorted, so that two
 * schemas compare with one deep equality. What "the same schema" means in the migration tests.
 */
import type { Sql } from '../../src/db.js';

/** One sorted line per catalog object, by kind. */
export interface SchemaDump {
  relations: string[];
  columns: string[];
  constraints: string[];
  indexes: string[];
  triggers: string[];
  functions: string[];
  enums: string[];
  extensions: string[];
}

/** Reads the catalog of the `public` schema (extensions: the whole database). */
export async function dumpSchema(sql: Sql): Promise<SchemaDump> {
  const lines = async (query: Promise<{ line: string }[]>): Promise<string[]> => (await query).map((row) => row.line);
  return {
    relations: await lines(sql`
      select c.relname || ' ' || c.relkind::text as line
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
      order by 1`),
    columns: await lines(sql`
      select c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
             || case when a.attnotnull then ' not null' else '' end
             || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
             || case when a.attidentity::text <> '' then ' identity ' || a.attidentity::text else '' end
             || case when a.attgenerated::text <> '' then ' generated' else '' end
             || coalesce(' collate ' || nullif(co.collname, 'default'), '') as line
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      left join pg_collation co on co.oid = a.attcollation
      where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f') and a.attnum > 0 and not a.attisdropped
      order by 1`),
    constraints: await lines(sql`
      select c.relname || ' ' || con.conname || ' ' || con.contype::text || ' ' || pg_get_constraintdef(con.oid) as line
      from pg_constraint con
      join pg_class c on c.oid = con.conrelid
      join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public'
      order by 1`),
    indexes: await lines(sql`select indexdef as line from pg_indexes where schemaname = 'public' order by 1`),
    triggers: await lines(sql`
      select pg_get_triggerdef(t.oid) as line
      from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and not t.tgisinternal
      order by 1`),
    functions: await lines(sql`
      select p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(pg_get_functiondef(p.oid)) as line
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and p.prokind in ('f', 'p')
      order by 1`),
    enums: await lines(sql`
      select t.typname || ' ' || string_agg(e.enumlabel, ',' order by e.enumsortorder) as line
      from pg_type t join pg_enum e on e.enumtypid = t.oid join pg_namespace n on n.oid = t.typnamespace
      where n.nspname = 'public'
      group by t.typname
      order by 1`),
    extensions: await lines(sql`select extname as line from pg_extension order by 1`),
  };
}
