// The HTML answer to a refused or failed console request.
import type { Principal } from '../auth/plugin.js';
import { Layout } from './layout.js';

const titles: Record<number, string> = {
  400: 'That did not work',
  401: 'Please log in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
};

export function ErrorPage(props: { status: number; message: string; principal?: Principal }) {
  const title = titles[props.status] ?? 'Error';
  return (
    <Layout title={title} ctx={{ csrf: '', principal: undefined }}>
      <h1 safe>{title}</h1>
      <p safe>{props.message}</p>
      <p>
        {props.principal ? (
          <a href="/console/alerts">Back to the alerts</a>
        ) : (
          <a href="/console/login">Log in</a>
        )}
      </p>
    </Layout>
  );
}
