import type { AnchorHTMLAttributes } from 'react';
import { useLinkHandler } from '../lib/router.js';

/** An anchor that navigates inside the app without a page load (and stays a real link). */
export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const navigateOnClick = useLinkHandler();
  return (
    <a
      href={href}
      {...rest}
      onClick={(event) => {
        onClick?.(event);
        navigateOnClick(event);
      }}
    />
  );
}
