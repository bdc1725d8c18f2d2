// Who is signed in: `/auth/me` in the query cache, login and logout, and what the user may do.
import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, type ReactNode } from "react";

import { ApiError, api, onUnauthenticated, setCsrf, unwrap } from "../api/client";
import type { Me } from "../api/models";

interface Session {
  me: Me | null;
  loading: boolean;
  can: (scope: string) => boolean;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);
export const ME_KEY = ["me"] as const;

async function fetchMe(): Promise<Me | null> {
  const result = await api.GET("/api/v1/auth/me");
  if (result.response.status === 401) return null;
  return unwrap(result) as unknown as Me;
}

/** Another user's data must not outlive a login or logout; `me` itself stays (its observer holds it). */
function forgetAllButMe(client: QueryClient): void {
  client.removeQueries({ predicate: (query) => query.queryKey[0] !== ME_KEY[0] });
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const query = useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: Infinity, retry: false });
  const me = query.data ?? null;

  useEffect(
    () =>
      onUnauthenticated(() => {
        setCsrf(null);
        forgetAllButMe(client);
        client.setQueryData(ME_KEY, null);
      }),
    [client],
  );

  const login = useCallback(
    async (username: string, password: string) => {
      const result = await api.POST("/api/v1/auth/login", { body: { username, password } });
      const data = unwrap(result) as { csrf_token?: string };
      setCsrf(data.csrf_token ?? null);
      forgetAllButMe(client);
      client.setQueryData(ME_KEY, await fetchMe());
    },
    [client],
  );

  const logout = useCallback(async () => {
    try {
      unwrap(await api.POST("/api/v1/auth/logout"));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    setCsrf(null);
    forgetAllButMe(client);
    client.setQueryData(ME_KEY, null);
  }, [client]);

  const value = useMemo<Session>(
    () => ({
      me,
      loading: query.isPending,
      can: (scope: string) => !!me && (me.scopes.includes("admin") || me.scopes.includes(scope)),
      login,
      logout,
    }),
    [me, query.isPending, login, logout],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
