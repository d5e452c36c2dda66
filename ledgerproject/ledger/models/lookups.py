"""Lookups the kernel and the apps share."""

from django.db.models import Lookup


class InEachOf(Lookup):
    """`lhs IN (subquery)`, which PostgreSQL is given as `lhs = ANY(ARRAY(subquery))`: the subquery once (an InitPlan),
    then an index probe per value. Its IN plan may hash the subquery and read the whole outer table: with a few
    thousand release names among millions of entries that was a Seq Scan of 10 to 20 seconds. Elsewhere, IN."""

    lookup_name = "in_each_of"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} IN {rhs}", (*lhs_params, *rhs_params)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)
